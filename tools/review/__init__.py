"""The pull-request check: check-pr verdicts, the PR comment, CODEOWNERS.
Imports the stages below it (core to jobs).
"""
