"""Texture compression: what each texture is used for (classify), decoding with limits (pixels),
the encoders (encoders, basisu), quality measures and the per-texture quality search (quality), and
solid-colour textures folded into material factors (solid). The `textures` pass ties them together;
nothing here is imported unless that pass runs, so Pillow stays out of the CLI's start-up."""
