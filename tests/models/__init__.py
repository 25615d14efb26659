"""Tests of the torch networks in vproc/models, their shipped weights and their training."""
