#!/usr/bin/env bash
# Quickstart: set up, load the sample bank and contest, serve on http://127.0.0.1:8000
source "$(dirname "$0")/setup.sh" requirements.txt
export FLASK_APP=wsgi
# No SMS gateway in the quickstart: the console sender logs each phone code and the page shows it.
export SMS_SHOW_CODE=1
flask db upgrade
flask bank import question_bank/cz-science-2021.yaml
# The sample contest is 2021's; --shift-to-now opens it today so you can take a quiz at once.
flask contest import question_bank/cz-2021-3rd.contest.yaml --shift-to-now
echo "Serving on http://${GUNICORN_BIND:-127.0.0.1:8000}  (create an organizer: flask --app wsgi admin create --phone 13800000000 --name 管理员)"
exec gunicorn -c gunicorn.conf.py wsgi:app
