"""Serves the JupyterLab front end built in build/ with Debian's jupyter_server and
jupyterlab_server (python3-jupyter-server, python3-jupyterlab-server).

    /usr/bin/python3 jupyterlab-app/main.py --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks ...

Any --ServerApp.* option is passed on to jupyter_server. Settings and workspaces the user
changes are kept in EE_SNIPPETS_LAB_STATE (default: jupyterlab-app/state, git-ignored), apart from
build/, which scripts/setup.sh --lab replaces whenever the lock file changes.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(HERE, "build")
STATE = os.environ.get("EE_SNIPPETS_LAB_STATE") or os.path.join(HERE, "state")

# Jupyter config files on this machine are written for other servers (classic Notebook, a
# pip-installed JupyterLab) and could load their extensions into this one.
os.environ["JUPYTER_NO_CONFIG"] = "1"

try:
    from jupyterlab_server import LabServerApp
except ImportError as error:
    sys.exit(
        f"jupyterlab-app/main.py: {error}. This Python ({sys.executable}) lacks jupyterlab_server: "
        "install python3-jupyterlab-server (Debian) and run it with /usr/bin/python3."
    )

if not os.path.isfile(os.path.join(BUILD, "bundle.js")):
    sys.exit("jupyterlab-app/main.py: jupyterlab-app/build is missing: run scripts/setup.sh --lab first.")

with open(os.path.join(HERE, "package.json"), encoding="utf-8") as f:
    VERSION = json.load(f)["version"]


class EeSnippetsLab(LabServerApp):
    name = "ee_snippets_lab"
    app_name = "JupyterLab (ee-snippets)"
    app_version = VERSION
    extension_url = "/lab"
    default_url = "/lab"
    load_other_extensions = False
    static_dir = BUILD
    schemas_dir = os.path.join(BUILD, "schemas")
    themes_dir = os.path.join(BUILD, "themes")
    app_settings_dir = os.path.join(BUILD, "application_settings")
    templates_dir = os.path.join(HERE, "templates")
    user_settings_dir = os.path.join(STATE, "user_settings")
    workspaces_dir = os.path.join(STATE, "workspaces")

    def initialize_settings(self):
        super().initialize_settings()
        # The front end has no terminal plugin; the server must not offer one either.
        self.serverapp.web_app.settings["terminals_available"] = False


def _jupyter_server_extension_points():
    return [{"module": __name__, "app": EeSnippetsLab}]


if __name__ == "__main__":
    EeSnippetsLab.launch_instance()
