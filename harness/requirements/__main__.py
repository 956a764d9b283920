"""``python -m harness.requirements``: regenerate cpu-pip.txt from the installed metadata."""

from harness.requirements import write_pip_requirements

print(f"wrote {write_pip_requirements()}")
