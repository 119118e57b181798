"""Tasks for the browser tests of the web UI (tests/e2e/test_ui_browser.py): a schema that
exercises every kind of generated field, a task the test releases with a file, one that
echoes its text, one with a required and an optional nested object, one that returns files
and one that fails."""

import os
import time

import deferred

HOLD_MAX_S = 60  # a test that forgets to release its task does not hold the server forever


@deferred.task(name='form_echo',
               json_schema={
                   'type': 'object',
                   'properties': {
                       'color': {'type': 'string', 'enum': ['red', 'green', 'blue'],
                                 'description': 'A colour from the list.'},
                       'count': {'type': 'integer', 'minimum': 1, 'maximum': 10},
                       'loud': {'type': 'boolean'},
                       'weights': {'type': 'array', 'items': {'type': 'number'}},
                       'day': {'type': 'string', 'format': 'date'},
                       'size': {'type': 'object',
                                'properties': {'width': {'type': 'integer', 'minimum': 0},
                                               'unit': {'type': 'string',
                                                        'enum': ['cm', 'in']}}},
                   },
                   'required': ['color', 'count']})
def form_echo(**params):
    """Return the params exactly as they arrived."""
    return params


@deferred.task(name='hold',
               json_schema={'type': 'object',
                            'properties': {'release': {'type': 'string', 'minLength': 1},
                                           'note': {'type': 'string'}},
                            'required': ['release']})
def hold(release, note=''):
    """Run until the file `release` exists, then say so. The note is only shown."""
    deadline = time.monotonic() + HOLD_MAX_S
    while not os.path.exists(release):
        if time.monotonic() > deadline:
            raise TimeoutError(f'{release} did not appear within {HOLD_MAX_S} s')
        time.sleep(0.02)
    return 'released'


@deferred.task(name='echo',
               json_schema={'type': 'object',
                            'properties': {'text': {'type': 'string'}},
                            'required': ['text']})
def echo(text):
    """Return the text unchanged."""
    return text


WINDOW = {'type': 'object', 'title': 'Time window',
          'properties': {'start': {'type': 'string', 'format': 'date-time'},
                         'end': {'type': 'string', 'format': 'date-time'}},
          'required': ['start']}


@deferred.task(name='book',
               json_schema={
                   'type': 'object',
                   'properties': {
                       'room': {'type': 'object', 'title': 'Room',
                                'properties': {'name': {'type': 'string', 'minLength': 1},
                                               'seats': {'type': 'integer', 'minimum': 1}},
                                'required': ['name']},
                       'window': WINDOW,
                   },
                   'required': ['room']})
def book(room, window=None):
    """Book a `room`, within a `window` of time if one is given."""
    return {'room': room, 'window': window}


REPORT_CSV = 'name,value\npi,3.14\nπ,3.14159\n'
BLOB = bytes(range(256)) * 4


@deferred.task(name='report')
def report():
    """Return a message with two files: a CSV table and some binary bytes."""
    return deferred.Result(msg='report ready',
                           files=[{'name': 'report.csv', 'data': REPORT_CSV},
                                  {'name': 'blob.bin', 'data': BLOB}])


@deferred.task(name='broken',
               json_schema={'type': 'object',
                            'properties': {'message': {'type': 'string'}},
                            'required': ['message']})
def broken(message):
    """Always fail with `message`."""
    raise RuntimeError(message)


if __name__ == '__main__':
    deferred.run_cli()
