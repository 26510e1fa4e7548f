"""The framework's ceiling: a plain five-line Flask app, served by bench/load.py with the same gunicorn settings."""
from flask import Flask

app = Flask(__name__)
app.get("/healthz")(lambda: {"status": "ok"})
