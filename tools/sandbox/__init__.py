"""The loopback emulators (moto, GCP and GitHub fakes) and the demo, shipped as the `sandbox` extra.
Imports the stages below it and moto; SDK types come through connectors/*_emulation.py.
"""
