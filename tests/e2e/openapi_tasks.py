"""Tasks for the schemathesis run against a real server: every one returns at once (a slow
task would hold the server's threads), their schemas say exactly what run() takes, and one
always raises, so the documented "task raised" answer (500, code 200) is exercised."""

import deferred

STRICT = {'additionalProperties': False}


@deferred.task(name='add',
               json_schema={'type': 'object', **STRICT,
                            'properties': {'a': {'type': 'integer'},
                                           'b': {'type': 'integer'}},
                            'required': ['a', 'b']})
def add(a, b):
    """Add two whole numbers."""
    return a + b


@deferred.task(name='echo',
               json_schema={'type': 'object', **STRICT,
                            'properties': {
                                'text': {'type': 'string', 'maxLength': 50},
                                'count': {'type': 'integer', 'minimum': 0, 'maximum': 10},
                                'ratio': {'type': 'number'},
                                'flag': {'type': 'boolean'},
                                'colour': {'enum': ['red', 'green', 'blue']},
                                'tags': {'type': 'array', 'maxItems': 5,
                                         'items': {'type': 'string', 'maxLength': 10}},
                                'when': {'type': 'string', 'format': 'date-time'}},
                            'required': ['text']})
def echo(text, count=1, ratio=1.0, flag=False, colour='red', tags=(), when=None):
    """Give the params back."""
    return {'text': text, 'count': count, 'ratio': ratio, 'flag': flag, 'colour': colour,
            'tags': list(tags), 'when': when}


@deferred.task(name='points',
               json_schema={'type': 'object', **STRICT,
                            '$defs': {'point': {'type': 'object', **STRICT,
                                                'properties': {'x': {'type': 'number'},
                                                               'y': {'type': 'number'}},
                                                'required': ['x', 'y']}},
                            'properties': {'points': {'type': 'array', 'maxItems': 5,
                                                      'items': {'$ref': '#/$defs/point'}}}})
def points(points=()):
    """Count points (a schema with a local $ref)."""
    return len(points)


@deferred.task(name='report', json_schema={'type': 'object', **STRICT})
def report():
    """Return a small result file."""
    return deferred.Result(msg='a report', files=[{'name': 'report.txt', 'data': b'1 2 3\n'}])


@deferred.task(name='fail',
               json_schema={'type': 'object', **STRICT,
                            'properties': {'message': {'type': 'string', 'maxLength': 50}}})
def fail(message='this task always fails'):
    """Raise an error."""
    raise RuntimeError(message)


if __name__ == '__main__':
    deferred.run_cli()
