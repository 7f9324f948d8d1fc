"""Helpers shared by the cl-mixer integration tests."""

import math

import harness as h


def level(samples):
    """(peak dB, RMS dB) of a list of floats."""
    return h.peak_db(samples), h.rms_db(samples)


def envelope(samples, window):
    """Peak of |x| in consecutive windows."""
    return [max(abs(v) for v in samples[i:i + window]) or 0.0
            for i in range(0, len(samples) - window + 1, window)]


def db(x):
    return -math.inf if x <= 0 else 20 * math.log10(x)
