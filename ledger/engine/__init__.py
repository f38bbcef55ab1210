"""The lot engine: pure, stdlib-only cost-basis matching under a jurisdiction's rules.

No I/O, no logging: it takes frozen values and returns frozen values.
"""
