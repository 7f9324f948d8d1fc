/*
 * lv2-block-host: time an LV2 plugin's run() alone, block by block, as a
 * peer figure for cl-fx's benchmarks.
 *
 *   lv2-block-host URI IN.wav|--noise SECONDS [--block 128] [--set sym=value ...]
 *                  [--dual-mono] [--out OUT.wav] [--then URI [--set sym=value ...]]...
 *
 * lv2apply is no fair peer: it calls run() one frame at a time. This host
 * reads the whole input into memory first (a WAV through libsndfile, or
 * stereo pink noise made here), instantiates the plugin (or a chain of
 * plugins, `--then`), connects every port, and then times only the run()
 * calls, one clock_gettime(CLOCK_MONOTONIC) pair around each block of all
 * the chain's run() calls, so file I/O and the host's own copying stay out
 * of the figure. Denormals are flushed (FTZ/DAZ) as every audio host does.
 *
 * Ports: audio inputs take the input's channels in order (a mono plugin on
 * a stereo input gets the left channel, and the host says so; with
 * --dual-mono a plugin with one input and one output runs as two
 * instances, one per channel, which is the same job as a stereo plugin's);
 * audio inputs beyond the signal's channels (sidechains) get silence;
 * outputs beyond the signal's channels go to scratch. Control inputs start
 * at their defaults (or --set), control outputs go to scratch. Atom inputs
 * get an empty sequence before every run(), atom outputs an empty chunk of
 * 8 KiB. CV and unknown port types are refused with a message. Features:
 * urid:map/unmap, options:options (block lengths, sample rate), bufsz
 * bounded/fixed/power-of-2 block lengths and log:log; a plugin that
 * requires anything else is refused by name.
 *
 * Output: a summary line of `key=value` words that bench_fx.py reads
 * (realtime, dsp_s, us_per_block median and p99), after the output was
 * checked finite and not silent (exit 1 otherwise); --out also writes it
 * to a float WAV file (for spectra). Exit 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include <lilv/lilv.h>
#include <lv2/atom/atom.h>
#include <lv2/buf-size/buf-size.h>
#include <lv2/core/lv2.h>
#include <lv2/log/log.h>
#include <lv2/options/options.h>
#include <lv2/parameters/parameters.h>
#include <lv2/urid/urid.h>
#include <sndfile.h>

#define MAX_STAGES 16
#define MAX_SETS 128
#define MAX_URIS 1024
#define ATOM_CAPACITY 8192
#define MAX_CHANNELS 2
#define PREEMPTED_X 50.0        /* see dsp_total() */
#define PREEMPTED_S 200e-6

/* One --set sym=value. */
struct setting {
	const char *symbol;
	float value;
	bool used;
};

/* One plugin of the chain, with its one or two instances. */
struct stage {
	const char *uri;
	const LilvPlugin *plugin;
	LilvInstance *inst[2];
	int ninst;
	struct setting set[MAX_SETS];
	int nset;
	uint32_t nports;
	float *control;          /* one value per port, controls only */
	uint32_t audio_in[8], audio_out[8];
	int n_audio_in, n_audio_out;
	uint32_t atom_in[4], atom_out[4];
	int n_atom_in, n_atom_out;
	LV2_Atom_Sequence *atom_in_buf[2][4];
	LV2_Atom_Sequence *atom_out_buf[2][4];
};

/* The URID map: a plain table, looked up linearly (not in timed code). */
struct urids {
	char *uri[MAX_URIS];
	uint32_t count;
};

/* Everything the host holds. */
struct host {
	LilvWorld *world;
	struct urids map;
	struct stage stage[MAX_STAGES];
	int nstages;
	uint32_t rate;
	uint32_t block;
	bool dual_mono;
	int channels;            /* of the signal: 1 or 2 */
	uint64_t frames;
	float *input[MAX_CHANNELS];
	float *buf[MAX_CHANNELS];   /* the block being processed, in place per stage */
	float *tmp[MAX_CHANNELS];   /* a stage writes here, then back into buf */
	float *silence, *scratch;
	LV2_URID urid_sequence, urid_chunk;
	/* options and features handed to every plugin */
	int32_t min_block, max_block, nominal_block;
	float sample_rate_f;
	LV2_Options_Option options[6];
	LV2_URID_Map urid_map;
	LV2_URID_Unmap urid_unmap;
	LV2_Log_Log log;
	LV2_Feature f_map, f_unmap, f_options, f_bounded, f_fixed, f_pow2, f_log;
	const LV2_Feature *features[8];
};

/* Print a message and exit 1. */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("lv2-block-host: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* Print the usage and exit 2. */
static void usage(const char *why) __attribute__((noreturn));
static void usage(const char *why)
{
	if (why)
		fprintf(stderr, "lv2-block-host: %s\n", why);
	fputs("usage: lv2-block-host URI IN.wav|--noise SECONDS [--block N] [--rate HZ]\n"
	      "                      [--set sym=value ...] [--dual-mono] [--out OUT.wav]\n"
	      "                      [--then URI [--set sym=value ...]]...\n", stderr);
	exit(2);
}

/* Seconds on the monotonic clock. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The id of uri, added on first sight (0 when the table is full). */
static LV2_URID on_map(LV2_URID_Map_Handle handle, const char *uri)
{
	struct urids *m = handle;
	for (uint32_t i = 0; i < m->count; i++)
		if (strcmp(m->uri[i], uri) == 0)
			return i + 1;
	if (m->count == MAX_URIS)
		return 0;
	m->uri[m->count] = strdup(uri);
	if (!m->uri[m->count])
		return 0;
	return ++m->count;
}

/* The uri of id, or NULL. */
static const char *on_unmap(LV2_URID_Unmap_Handle handle, LV2_URID id)
{
	struct urids *m = handle;
	return id >= 1 && id <= m->count ? m->uri[id - 1] : NULL;
}

/* log:log from a plugin: printed to stderr with the plugin's words. */
static int on_log_vprintf(LV2_Log_Handle handle, LV2_URID type, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static int on_log_vprintf(LV2_Log_Handle handle, LV2_URID type, const char *fmt, va_list ap)
{
	fputs("plugin log: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

/* log:log printf. */
static int on_log_printf(LV2_Log_Handle handle, LV2_URID type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int on_log_printf(LV2_Log_Handle handle, LV2_URID type, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = on_log_vprintf(handle, type, fmt, ap);
	va_end(ap);
	return r;
}

/* Fill the feature list every instance gets. */
static void features_init(struct host *h)
{
	struct urids *m = &h->map;
	h->urid_map = (LV2_URID_Map){ .handle = m, .map = on_map };
	h->urid_unmap = (LV2_URID_Unmap){ .handle = m, .unmap = on_unmap };
	h->log = (LV2_Log_Log){ .handle = NULL, .printf = on_log_printf, .vprintf = on_log_vprintf };
	h->min_block = 1;
	h->max_block = (int32_t)h->block;
	h->nominal_block = (int32_t)h->block;
	h->sample_rate_f = (float)h->rate;
	LV2_URID int_type = on_map(m, LV2_ATOM__Int), float_type = on_map(m, LV2_ATOM__Float);
	h->urid_sequence = on_map(m, LV2_ATOM__Sequence);
	h->urid_chunk = on_map(m, LV2_ATOM__Chunk);
	int n = 0;
	h->options[n++] = (LV2_Options_Option){ LV2_OPTIONS_INSTANCE, 0,
		on_map(m, LV2_BUF_SIZE__minBlockLength), sizeof(int32_t), int_type, &h->min_block };
	h->options[n++] = (LV2_Options_Option){ LV2_OPTIONS_INSTANCE, 0,
		on_map(m, LV2_BUF_SIZE__maxBlockLength), sizeof(int32_t), int_type, &h->max_block };
	h->options[n++] = (LV2_Options_Option){ LV2_OPTIONS_INSTANCE, 0,
		on_map(m, LV2_BUF_SIZE__nominalBlockLength), sizeof(int32_t), int_type, &h->nominal_block };
	h->options[n++] = (LV2_Options_Option){ LV2_OPTIONS_INSTANCE, 0,
		on_map(m, LV2_PARAMETERS__sampleRate), sizeof(float), float_type, &h->sample_rate_f };
	h->options[n++] = (LV2_Options_Option){ LV2_OPTIONS_INSTANCE, 0, 0, 0, 0, NULL };
	h->f_map = (LV2_Feature){ LV2_URID__map, &h->urid_map };
	h->f_unmap = (LV2_Feature){ LV2_URID__unmap, &h->urid_unmap };
	h->f_options = (LV2_Feature){ LV2_OPTIONS__options, h->options };
	h->f_bounded = (LV2_Feature){ LV2_BUF_SIZE__boundedBlockLength, NULL };
	h->f_fixed = (LV2_Feature){ LV2_BUF_SIZE__fixedBlockLength, NULL };
	h->f_pow2 = (LV2_Feature){ LV2_BUF_SIZE__powerOf2BlockLength, NULL };
	h->f_log = (LV2_Feature){ LV2_LOG__log, &h->log };
	n = 0;
	h->features[n++] = &h->f_map;
	h->features[n++] = &h->f_unmap;
	h->features[n++] = &h->f_options;
	h->features[n++] = &h->f_bounded;
	h->features[n++] = &h->f_fixed;
	/* only a power of 2 when it is one: the host keeps its promises */
	if ((h->block & (h->block - 1)) == 0)
		h->features[n++] = &h->f_pow2;
	h->features[n++] = &h->f_log;
	h->features[n] = NULL;
}

/* True when uri is a feature this host gives. */
static bool feature_supported(const struct host *h, const char *uri)
{
	for (int i = 0; h->features[i]; i++)
		if (strcmp(h->features[i]->URI, uri) == 0)
			return true;
	/* hardRTCapable and friends are promises of the plugin, not needs */
	return strcmp(uri, LV2_CORE__isLive) == 0 || strcmp(uri, LV2_CORE__hardRTCapable) == 0 ||
	       strcmp(uri, LV2_CORE__inPlaceBroken) == 0;
}

/* Stereo pink noise (Paul Kellet's refined filter on white noise from a
 * fixed-seed generator), peaking near `vol`, into h->input. */
static void make_noise(struct host *h, double seconds)
{
	h->channels = 2;
	h->frames = (uint64_t)llround(seconds * h->rate);
	if (h->frames == 0)
		usage("--noise needs a positive number of seconds");
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	for (int c = 0; c < h->channels; c++) {
		float *x = h->input[c] = malloc(sizeof(float) * h->frames);
		if (!x)
			die("out of memory for %llu frames", (unsigned long long)h->frames);
		double b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0;
		for (uint64_t i = 0; i < h->frames; i++) {
			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			double w = (double)(seed >> 11) / 9007199254740992.0 * 2.0 - 1.0;
			b0 = 0.99886 * b0 + w * 0.0555179;
			b1 = 0.99332 * b1 + w * 0.0750759;
			b2 = 0.96900 * b2 + w * 0.1538520;
			b3 = 0.86650 * b3 + w * 0.3104856;
			b4 = 0.55000 * b4 + w * 0.5329522;
			b5 = -0.7616 * b5 - w * 0.0168980;
			double pink = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
			b6 = w * 0.115926;
			x[i] = (float)(pink * 0.11 * 0.5);   /* ~unit peak, then vol 0.5 */
		}
	}
}

/* Read a whole audio file (1 or 2 channels) into h->input. */
static void read_input(struct host *h, const char *path)
{
	SF_INFO info = { 0 };
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	if (!sf)
		die("cannot read %s: %s", path, sf_strerror(NULL));
	if (info.channels < 1 || info.channels > MAX_CHANNELS)
		die("%s has %d channels; this host takes 1 or 2", path, info.channels);
	if (info.frames <= 0)
		die("%s has no frames", path);
	h->channels = info.channels;
	h->rate = (uint32_t)info.samplerate;
	h->frames = (uint64_t)info.frames;
	float *inter = malloc(sizeof(float) * h->frames * (size_t)h->channels);
	if (!inter)
		die("out of memory for %s", path);
	sf_count_t got = sf_readf_float(sf, inter, info.frames);
	sf_close(sf);
	if (got != info.frames)
		die("%s: read %lld of %lld frames", path, (long long)got, (long long)info.frames);
	for (int c = 0; c < h->channels; c++) {
		h->input[c] = malloc(sizeof(float) * h->frames);
		if (!h->input[c])
			die("out of memory for %s", path);
		for (uint64_t i = 0; i < h->frames; i++)
			h->input[c][i] = inter[i * (uint64_t)h->channels + (uint64_t)c];
	}
	free(inter);
}

/* Parse "sym=value" into s; false when malformed. */
static bool parse_setting(const char *arg, struct setting *s)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		return false;
	char *end;
	errno = 0;
	double v = strtod(eq + 1, &end);
	if (errno || end == eq + 1 || *end || !isfinite(v))
		return false;
	s->symbol = strndup(arg, (size_t)(eq - arg));
	s->value = (float)v;
	s->used = false;
	return s->symbol != NULL;
}

/* An empty atom sequence of `capacity` bytes (an input's or an output's). */
static LV2_Atom_Sequence *atom_buffer(void)
{
	LV2_Atom_Sequence *seq = aligned_alloc(64, ATOM_CAPACITY);
	if (!seq)
		die("out of memory for atom buffers");
	memset(seq, 0, ATOM_CAPACITY);
	return seq;
}

/* Reset the atom buffers before a run(): inputs empty, outputs a chunk. */
static void atoms_prepare(struct host *h, struct stage *s, int k)
{
	LV2_URID seq_type = h->urid_sequence, chunk_type = h->urid_chunk;
	for (int i = 0; i < s->n_atom_in; i++) {
		LV2_Atom_Sequence *seq = s->atom_in_buf[k][i];
		seq->atom.size = sizeof(LV2_Atom_Sequence_Body);
		seq->atom.type = seq_type;
		seq->body.unit = 0;
		seq->body.pad = 0;
	}
	for (int i = 0; i < s->n_atom_out; i++) {
		LV2_Atom_Sequence *seq = s->atom_out_buf[k][i];
		seq->atom.size = ATOM_CAPACITY - sizeof(LV2_Atom);
		seq->atom.type = chunk_type;
	}
}

/* Load one stage's plugin, sort its ports, instantiate and connect. */
static void stage_open(struct host *h, struct stage *s)
{
	LilvNode *uri = lilv_new_uri(h->world, s->uri);
	const LilvPlugins *all = lilv_world_get_all_plugins(h->world);
	s->plugin = uri ? lilv_plugins_get_by_uri(all, uri) : NULL;
	lilv_node_free(uri);
	if (!s->plugin)
		die("%s: no such LV2 plugin installed (see lv2ls)", s->uri);

	LilvNodes *req = lilv_plugin_get_required_features(s->plugin);
	LILV_FOREACH (nodes, i, req) {
		const char *f = lilv_node_as_uri(lilv_nodes_get(req, i));
		if (!feature_supported(h, f))
			die("%s requires the feature %s, which this host does not give", s->uri, f);
	}
	lilv_nodes_free(req);

	LilvNode *audio = lilv_new_uri(h->world, LV2_CORE__AudioPort);
	LilvNode *control = lilv_new_uri(h->world, LV2_CORE__ControlPort);
	LilvNode *atom = lilv_new_uri(h->world, LV2_ATOM__AtomPort);
	LilvNode *input = lilv_new_uri(h->world, LV2_CORE__InputPort);
	LilvNode *output = lilv_new_uri(h->world, LV2_CORE__OutputPort);
	s->nports = lilv_plugin_get_num_ports(s->plugin);
	s->control = calloc(s->nports ? s->nports : 1, sizeof(float));
	float *mins = calloc(s->nports ? s->nports : 1, sizeof(float));
	float *maxs = calloc(s->nports ? s->nports : 1, sizeof(float));
	float *defs = calloc(s->nports ? s->nports : 1, sizeof(float));
	if (!s->control || !mins || !maxs || !defs)
		die("out of memory");
	lilv_plugin_get_port_ranges_float(s->plugin, mins, maxs, defs);

	for (uint32_t p = 0; p < s->nports; p++) {
		const LilvPort *port = lilv_plugin_get_port_by_index(s->plugin, p);
		const char *sym = lilv_node_as_string(lilv_port_get_symbol(s->plugin, port));
		bool in = lilv_port_is_a(s->plugin, port, input);
		bool out = lilv_port_is_a(s->plugin, port, output);
		if (lilv_port_is_a(s->plugin, port, audio)) {
			if (in && s->n_audio_in < 8)
				s->audio_in[s->n_audio_in++] = p;
			else if (out && s->n_audio_out < 8)
				s->audio_out[s->n_audio_out++] = p;
			else
				die("%s: audio port %s is neither input nor output, or too many", s->uri, sym);
		} else if (lilv_port_is_a(s->plugin, port, control)) {
			float v = !isnan(defs[p]) ? defs[p] : !isnan(mins[p]) ? mins[p] : 0.0f;
			if (in)
				for (int k = 0; k < s->nset; k++)
					if (strcmp(s->set[k].symbol, sym) == 0) {
						v = s->set[k].value;
						s->set[k].used = true;
					}
			s->control[p] = v;
		} else if (lilv_port_is_a(s->plugin, port, atom)) {
			if (in && s->n_atom_in < 4)
				s->atom_in[s->n_atom_in++] = p;
			else if (out && s->n_atom_out < 4)
				s->atom_out[s->n_atom_out++] = p;
			else
				die("%s: atom port %s: too many", s->uri, sym);
		} else {
			die("%s: port %s is of a type this host does not drive (CV or event)", s->uri, sym);
		}
	}
	free(mins);
	free(maxs);
	free(defs);
	lilv_node_free(audio);
	lilv_node_free(control);
	lilv_node_free(atom);
	lilv_node_free(input);
	lilv_node_free(output);
	for (int k = 0; k < s->nset; k++)
		if (!s->set[k].used)
			die("%s has no control input '%s' (see lv2info %s)", s->uri, s->set[k].symbol, s->uri);
	if (s->n_audio_in == 0 || s->n_audio_out == 0)
		die("%s has %d audio inputs and %d outputs; an effect needs both", s->uri,
		    s->n_audio_in, s->n_audio_out);

	s->ninst = (h->dual_mono && h->channels == 2 && s->n_audio_in == 1 && s->n_audio_out == 1) ? 2 : 1;
	for (int k = 0; k < s->ninst; k++) {
		s->inst[k] = lilv_plugin_instantiate(s->plugin, h->rate, h->features);
		if (!s->inst[k])
			die("%s: instantiate failed", s->uri);
		for (uint32_t p = 0; p < s->nports; p++)
			lilv_instance_connect_port(s->inst[k], p, &s->control[p]);
		for (int i = 0; i < s->n_atom_in; i++) {
			s->atom_in_buf[k][i] = atom_buffer();
			lilv_instance_connect_port(s->inst[k], s->atom_in[i], s->atom_in_buf[k][i]);
		}
		for (int i = 0; i < s->n_atom_out; i++) {
			s->atom_out_buf[k][i] = atom_buffer();
			lilv_instance_connect_port(s->inst[k], s->atom_out[i], s->atom_out_buf[k][i]);
		}
		/* Audio: the signal's channel c to input c and from output c;
		 * a second instance takes the right channel. */
		for (int i = 0; i < s->n_audio_in; i++) {
			int c = s->ninst == 2 ? k : i;
			lilv_instance_connect_port(s->inst[k], s->audio_in[i],
						   c < h->channels ? h->buf[c] : h->silence);
		}
		for (int i = 0; i < s->n_audio_out; i++) {
			int c = s->ninst == 2 ? k : i;
			lilv_instance_connect_port(s->inst[k], s->audio_out[i],
						   c < h->channels ? h->tmp[c] : h->scratch);
		}
		atoms_prepare(h, s, k);
		lilv_instance_activate(s->inst[k]);
	}

	LilvNode *name = lilv_plugin_get_name(s->plugin);
	printf("plugin %s (%s): %d audio in, %d audio out, %d atom in, %d atom out",
	       s->uri, name ? lilv_node_as_string(name) : "?", s->n_audio_in, s->n_audio_out,
	       s->n_atom_in, s->n_atom_out);
	lilv_node_free(name);
	if (s->ninst == 2)
		printf("; mono plugin run as two instances (dual mono), one per channel");
	else if (s->n_audio_in == 1 && h->channels == 2)
		printf("; mono input: fed the LEFT channel only%s",
		       s->n_audio_out >= 2 ? " (its stereo output goes on)" :
		       " (the right channel passes through unprocessed)");
	if (s->n_audio_in > h->channels)
		printf("; %d extra audio input%s fed silence", s->n_audio_in - h->channels,
		       s->n_audio_in - h->channels > 1 ? "s" : "");
	printf("\n");
	for (int k = 0; k < s->nset; k++)
		printf("  set %s = %g\n", s->set[k].symbol, (double)s->set[k].value);
}

/* Copy what a stage wrote (tmp) back into buf for the next stage; channels
 * a stage did not write keep their input. */
static void stage_collect(struct host *h, const struct stage *s, uint32_t n)
{
	int written = s->ninst == 2 ? 2 : s->n_audio_out;
	for (int c = 0; c < h->channels && c < written; c++)
		memcpy(h->buf[c], h->tmp[c], sizeof(float) * n);
}

/* Compare two doubles for qsort. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The DSP time of all blocks, sorted: a block over PREEMPTED_X times the
 * median and over PREEMPTED_S is a preemption by another process (the
 * machine is shared), not work, and counts as the median; *preempted
 * says how many. lv2-block-host and fx-block-bench use the same rule. */
static double dsp_total(const double *sorted, uint64_t n, double median, uint64_t *preempted)
{
	double total = 0.0;
	*preempted = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (sorted[i] > PREEMPTED_X * median && sorted[i] > PREEMPTED_S) {
			total += median;
			++*preempted;
		} else {
			total += sorted[i];
		}
	}
	return total;
}

int main(int argc, char **argv)
{
	static struct host host;
	struct host *h = &host;
	const char *in_path = NULL, *out_path = NULL;
	double noise_s = 0.0;
	h->rate = 48000;
	h->block = 128;

	if (argc < 3)
		usage(NULL);
	h->stage[0].uri = argv[1];
	h->nstages = 1;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		struct stage *cur = &h->stage[h->nstages - 1];
		if (strcmp(a, "--noise") == 0 && i + 1 < argc) {
			noise_s = atof(argv[++i]);
			if (!(noise_s > 0 && noise_s <= 3600))
				usage("--noise takes 0 < SECONDS <= 3600");
		} else if (strcmp(a, "--block") == 0 && i + 1 < argc) {
			long b = atol(argv[++i]);
			if (b < 1 || b > 8192)
				usage("--block takes 1..8192");
			h->block = (uint32_t)b;
		} else if (strcmp(a, "--rate") == 0 && i + 1 < argc) {
			long r = atol(argv[++i]);
			if (r < 8000 || r > 384000)
				usage("--rate takes 8000..384000");
			h->rate = (uint32_t)r;
		} else if (strcmp(a, "--set") == 0 && i + 1 < argc) {
			if (cur->nset == MAX_SETS || !parse_setting(argv[++i], &cur->set[cur->nset]))
				usage("--set takes sym=value");
			cur->nset++;
		} else if (strcmp(a, "--out") == 0 && i + 1 < argc) {
			out_path = argv[++i];
		} else if (strcmp(a, "--dual-mono") == 0) {
			h->dual_mono = true;
		} else if (strcmp(a, "--then") == 0 && i + 1 < argc) {
			if (h->nstages == MAX_STAGES)
				usage("too many plugins");
			h->stage[h->nstages++].uri = argv[++i];
		} else if (a[0] != '-' && !in_path) {
			in_path = a;
		} else {
			usage("unknown or incomplete argument");
		}
	}
	if (!in_path == !(noise_s > 0))
		usage("give one input: IN.wav or --noise SECONDS");

	if (in_path)
		read_input(h, in_path);
	else
		make_noise(h, noise_s);
	for (int c = 0; c < MAX_CHANNELS; c++) {
		h->buf[c] = aligned_alloc(64, sizeof(float) * 8192);
		h->tmp[c] = aligned_alloc(64, sizeof(float) * 8192);
		if (!h->buf[c] || !h->tmp[c])
			die("out of memory");
	}
	h->silence = aligned_alloc(64, sizeof(float) * 8192);
	h->scratch = aligned_alloc(64, sizeof(float) * 8192);
	if (!h->silence || !h->scratch)
		die("out of memory");
	memset(h->silence, 0, sizeof(float) * 8192);

	h->world = lilv_world_new();
	lilv_world_load_all(h->world);
	features_init(h);
	for (int k = 0; k < h->nstages; k++)
		stage_open(h, &h->stage[k]);

#if defined(__SSE__)
	_mm_setcsr(_mm_getcsr() | 0x8040);   /* FTZ and DAZ, as audio hosts run */
#endif
	uint64_t nblocks = (h->frames + h->block - 1) / h->block;
	double *block_s = malloc(sizeof(double) * nblocks);
	if (!block_s)
		die("out of memory");
	float *kept = NULL;   /* the whole output, interleaved, for --out */
	if (out_path && !(kept = malloc(sizeof(float) * h->frames * (size_t)h->channels)))
		die("out of memory for --out");
	double total = 0.0, sum_sq = 0.0, peak = 0.0;
	bool finite = true;
	uint64_t b = 0;
	for (uint64_t pos = 0; pos < h->frames; pos += h->block, b++) {
		uint32_t n = (uint32_t)(h->frames - pos < h->block ? h->frames - pos : h->block);
		for (int c = 0; c < h->channels; c++)
			memcpy(h->buf[c], h->input[c] + pos, sizeof(float) * n);
		for (int k = 0; k < h->nstages; k++)
			for (int j = 0; j < h->stage[k].ninst; j++)
				atoms_prepare(h, &h->stage[k], j);
		/* Only the run() calls are timed; in a chain each stage's
		 * copy back into buf is the wiring a host does anyway, and
		 * it costs a memcpy of n floats. */
		double t0 = now_s();
		for (int k = 0; k < h->nstages; k++) {
			struct stage *s = &h->stage[k];
			for (int j = 0; j < s->ninst; j++)
				lilv_instance_run(s->inst[j], n);
			if (k + 1 < h->nstages)
				stage_collect(h, s, n);
		}
		double dt = now_s() - t0;
		block_s[b] = dt;
		total += dt;
		stage_collect(h, &h->stage[h->nstages - 1], n);
		for (int c = 0; c < h->channels; c++)
			for (uint32_t i = 0; i < n; i++) {
				double v = h->buf[c][i];
				if (kept)
					kept[(pos + i) * (uint64_t)h->channels + (uint64_t)c] = h->buf[c][i];
				if (!isfinite(v))
					finite = false;
				else {
					sum_sq += v * v;
					if (fabs(v) > peak)
						peak = fabs(v);
				}
			}
	}
	double total_raw = total;
	uint64_t preempted = 0;
	qsort(block_s, nblocks, sizeof(double), cmp_double);
	double median = block_s[nblocks / 2];
	double p99 = block_s[(uint64_t)((double)(nblocks - 1) * 0.99)];
	total = dsp_total(block_s, nblocks, median, &preempted);
	double seconds = (double)h->frames / h->rate;
	double rms = sqrt(sum_sq / ((double)h->frames * h->channels));
	double rms_db = rms > 0 ? 20.0 * log10(rms) : -999.0;
	double peak_db = peak > 0 ? 20.0 * log10(peak) : -999.0;

	for (int k = 0; k < h->nstages; k++)
		for (int j = 0; j < h->stage[k].ninst; j++) {
			lilv_instance_deactivate(h->stage[k].inst[j]);
			lilv_instance_free(h->stage[k].inst[j]);
		}
	lilv_world_free(h->world);

	printf("result realtime=%.1f dsp_s=%.6f realtime_raw=%.1f preempted=%llu frames=%llu channels=%d "
	       "rate=%u block=%u blocks=%llu us_per_block_median=%.3f us_per_block_p99=%.3f "
	       "us_per_block_max=%.3f out_rms_db=%.1f out_peak_db=%.1f finite=%d\n",
	       total > 0 ? seconds / total : 0.0, total, total_raw > 0 ? seconds / total_raw : 0.0,
	       (unsigned long long)preempted, (unsigned long long)h->frames, h->channels, h->rate,
	       h->block, (unsigned long long)nblocks, median * 1e6, p99 * 1e6,
	       block_s[nblocks - 1] * 1e6, rms_db, peak_db, finite ? 1 : 0);
	free(block_s);
	if (kept) {
		SF_INFO info = { .samplerate = (int)h->rate, .channels = h->channels,
				 .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT };
		SNDFILE *sf = sf_open(out_path, SFM_WRITE, &info);
		if (!sf)
			die("cannot write %s: %s", out_path, sf_strerror(NULL));
		if (sf_writef_float(sf, kept, (sf_count_t)h->frames) != (sf_count_t)h->frames)
			die("cannot write %s: %s", out_path, sf_strerror(sf));
		sf_close(sf);
		free(kept);
	}
	if (!finite)
		die("the output has NaN or Inf samples");
	if (rms_db < -90.0)
		die("the output is silent (RMS %.1f dBFS): the plugin did not process", rms_db);
	return 0;
}
