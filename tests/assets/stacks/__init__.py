"""Tiny build() entrypoints for each training stack lrfind takes as it is (issue 14)."""
