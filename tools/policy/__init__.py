"""The decision: Rego engines (embedded and OPA server), the policy input, evaluation, Rego test runner.
Imports tools.core and tools.request.
"""
