"""Deep Region Competition: unsupervised foreground extraction (Yu et al., NeurIPS 2021)."""

__version__ = "0.1.0"
