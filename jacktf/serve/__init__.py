"""Serving: SavedModel export (TF Serving layout), TFLite and ONNX exports, prediction
with any of them, and class activation map rendering."""
