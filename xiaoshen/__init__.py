"""小申 Xiaoshen: the command line, settings and the process supervisor."""
