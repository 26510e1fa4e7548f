"""What gunicorn and `flask --app wsgi` import."""
from quiz import create_app

app = create_app()
