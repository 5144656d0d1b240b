"""Answers for auditors: who-has, history, report, control mapping, git provenance.
Imports the stages below it (core to review).
"""
