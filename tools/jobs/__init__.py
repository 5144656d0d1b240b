"""The scheduled writers: reconcile drift, expire access, import existing access, the drift issue.
Imports the stages below it (core, request, policy, provision).
"""
