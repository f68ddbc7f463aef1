"""The only package that imports `telegram`: Application wiring, thin handlers, rendering."""
