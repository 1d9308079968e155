"""The pure core: numpy in, values out (no I/O, no model runtimes, no clock)."""
