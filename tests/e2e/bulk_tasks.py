"""Tasks for the browser tests of the task list's bulk actions
(tests/e2e/test_ui_bulk_browser.py): one that fails until its gate file exists, and one that
echoes its text."""

import os

import deferred


@deferred.task(name='flaky',
               json_schema={'type': 'object',
                            'properties': {'gate': {'type': 'string', 'minLength': 1},
                                           'tag': {'type': 'string'}},
                            'required': ['gate']})
def flaky(gate, tag=''):
    """Fail while the file `gate` does not exist, then succeed."""
    if not os.path.exists(gate):
        raise RuntimeError(f'the gate is closed ({tag})')
    return f'passed {tag}'


@deferred.task(name='echo',
               json_schema={'type': 'object',
                            'properties': {'text': {'type': 'string'}},
                            'required': ['text']})
def echo(text):
    """Return the text unchanged."""
    return text


if __name__ == '__main__':
    deferred.run_cli()
