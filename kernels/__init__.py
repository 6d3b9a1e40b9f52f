"""Fused kernels, one module per backend, found through a registry keyed by (operation, device)."""
