"""Codecs for compressed glTF data: decoders used by the reader, encoders used by the passes."""
