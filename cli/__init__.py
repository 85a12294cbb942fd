"""The ``biogas`` command: one entry point whose sub-commands run each part of the product."""
