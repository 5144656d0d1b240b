"""The loopback emulators (moto, GCP and GitHub fakes) and the demo, shipped as the `sandbox` extra.
Imports the stages below it; the only part of tools/ that may import cloud SDKs and test servers.
"""
