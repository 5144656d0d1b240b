"""The shared vocabulary: model, errors, output, repository access, safe YAML, org model, PR context.
Imports nothing of the other stages; every stage and connector may import it.
"""
