"""Desired state, plan, render, apply and the apply record: main made real in the clouds.
Imports tools.core, tools.request and tools.policy; clouds only through connectors/.
"""
