"""Datasets: the prepared format, TM-dSprites, and the real datasets of the paper."""
