#!/bin/sh
# The console's and the CLI's messages (quiz/i18n.py): extract the msgids, merge them into each
# catalogue, then compile the .mo files the app reads. Run from the repository root:
#   scripts/translations.sh            extract + update (then translate the new empty msgstr in messages.po)
#   scripts/translations.sh compile    compile quiz/translations/*/LC_MESSAGES/messages.po to .mo
set -e
PYBABEL=${PYBABEL:-.venv/bin/pybabel}
if [ "$1" = "compile" ]; then
    exec "$PYBABEL" compile --statistics -d quiz/translations
fi
"$PYBABEL" extract -F babel.cfg -k _ -k _l -k _n:1,2 -k N_ --no-location --sort-output -o quiz/translations/messages.pot .
"$PYBABEL" update -i quiz/translations/messages.pot -d quiz/translations --ignore-obsolete
