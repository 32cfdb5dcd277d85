"""Where the project's data folders live (the project is installed editable from its checkout)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"
POLICIES_DIR = PROJECT_ROOT / "policies"
