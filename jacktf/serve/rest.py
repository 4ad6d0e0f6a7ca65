"""TF Serving's REST predict API, decoded the way the server does it, for checking a
client's request against an export without running a server.

A client POSTs to ``http://HOST:8501/v1/models/NAME[/versions/N]:predict``::

    {"instances": [{"b64": "<base64 of a JPEG>"}, {"b64": "..."}]}
    {"signature_name": "predict_images", "instances": [[[[0, 0, 0], ...]]]}

Row format (``instances``): a list with one entry per example; for a signature with one
input each entry is that input's value, else an object keyed by input names. Columnar
format (``inputs``): the batched value, or an object of batched values by name. A value
``{"b64": "..."}`` is binary (base64) data for a string tensor. The answer is
``{"predictions": [...]}`` (one entry per example, an object keyed by output names when
the signature has several) or ``{"outputs": ...}`` for the columnar format; string
outputs are UTF-8 text (binary, as ``{"b64": ...}``, when the output name ends in
``_bytes``).

A request is checked before it runs (the errors TF Serving answers with HTTP 400):
JSON nested deeper than ``MAX_DEPTH``, values of the wrong type (a number where a
string goes, text, booleans or fractions where whole numbers go, integers outside the
input's range such as 256 for uint8) and encoded images whose header declares more than
``max_pixels`` (``serve.limits``) are a RequestError naming the input.
"""

import base64
import json

import numpy as np
import tensorflow as tf

from jacktf.core.errors import DataError
from jacktf.serve import limits

MAX_DEPTH = 10  # {"instances": [image [row [pixel [channel]]]]} is 5 deep


class RequestError(DataError):
    """The request is one TF Serving would reject (HTTP 400); the message says why."""


def _binary(value):
    """``value`` with every {"b64": s} object replaced by the bytes it encodes."""
    if isinstance(value, dict):
        if set(value) == {'b64'}:
            try:
                return base64.b64decode(value['b64'], validate=True)
            except (ValueError, TypeError) as e:
                raise RequestError(f'Unable to base64 decode: {e}') from None
        raise RequestError(f'Unexpected object {sorted(value)} where a value was expected '
                           '(binary data is written {"b64": "..."}).')
    if isinstance(value, list):
        return [_binary(v) for v in value]
    return value


def _check_depth(value):
    """Refuses JSON nested deeper than MAX_DEPTH (without recursing)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (list, dict)):
            if depth > MAX_DEPTH:
                raise RequestError(f'The request is nested deeper than {MAX_DEPTH} levels; '
                                   'an image batch needs 5.')
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)


def _leaves(values):
    pending = [values]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        else:
            yield item


def _strings(values, name, max_pixels):
    for leaf in _leaves(values):
        if not isinstance(leaf, (bytes, str)):
            raise RequestError(f'Input {name!r} takes strings (binary data written '
                               f'{{"b64": "..."}}); found {type(leaf).__name__} {leaf!r:.40}.')
        pixels = int(limits.declared_pixels(tf.constant(leaf)))
        if pixels > max_pixels:
            raise RequestError(f'Input {name!r}: an image declares {pixels} pixels, more '
                               f'than the limit of {max_pixels}; send it smaller.')
    return tf.constant(values, tf.string)


def _numbers(values, spec, name):
    """An array of ``spec``'s dtype, refusing values that would change in the cast."""
    dtype = spec.dtype.as_numpy_dtype
    flags = [leaf for leaf in _leaves(values) if isinstance(leaf, bool)]
    if flags:
        raise RequestError(f'Input {name!r} takes whole numbers or numbers '
                           f'({spec.dtype.name}); found the boolean {flags[0]!r}.')
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as e:
        raise RequestError(f'Input {name!r} is not a tensor of {spec.dtype.name}: '
                           f'{e}') from None
    allowed = 'iu' if spec.dtype.is_integer else 'iuf'
    if array.size and array.dtype.kind not in allowed:
        what = 'whole numbers' if spec.dtype.is_integer else 'numbers'
        raise RequestError(f'Input {name!r} takes {what} ({spec.dtype.name}); found '
                           f'{array.dtype.kind!r}-kind values such as '
                           f'{array.reshape(-1)[0]!r}.')
    if spec.dtype.is_integer and array.size:
        info = np.iinfo(dtype)
        low, high = array.min(), array.max()
        if low < info.min or high > info.max:
            bad = low if low < info.min else high
            raise RequestError(f'Input {name!r}: {spec.dtype.name} values lie in '
                               f'{info.min}..{info.max}; found {bad}.')
    return array.astype(dtype)


def _tensor(values, spec, name, max_pixels):
    if spec.dtype == tf.string:
        return _strings(values, name, max_pixels)
    array = _numbers(values, spec, name)
    if not spec.shape.is_compatible_with(array.shape):
        raise RequestError(f'Input {name!r} has shape {list(array.shape)}; the signature '
                           f'takes {spec.shape}.')
    return tf.constant(array)


def decode_request(body, signatures, max_pixels=limits.DEFAULT_MAX_PIXELS):
    """The signature and input tensors a TF Serving REST predict request names.

    Args:
      body: the request body (JSON text or bytes, or the parsed object).
      signatures: {name: concrete function}, e.g. ``tf.saved_model.load(p).signatures``.
      max_pixels: encoded images declaring more pixels are refused.

    Returns:
      (signature name, {input name: tensor}, row format?).

    Raises:
      RequestError: the request is malformed or does not fit the signature.
    """
    try:
        request = json.loads(body) if isinstance(body, (str, bytes)) else body
    except ValueError as e:
        raise RequestError(f'The request body is not JSON: {e}') from None
    except RecursionError:
        raise RequestError(f'The request is nested deeper than {MAX_DEPTH} levels; an '
                           'image batch needs 5.') from None
    _check_depth(request)
    if not isinstance(request, dict):
        raise RequestError('The request body must be a JSON object.')
    name = request.get('signature_name', 'serving_default')
    if name not in signatures:
        raise RequestError(f'Serving signature name: "{name}" not found in signature def '
                           f'(signatures: {", ".join(sorted(signatures))}).')
    specs = signatures[name].structured_input_signature[1]
    row = 'instances' in request
    if row == ('inputs' in request):
        raise RequestError('The request must have exactly one of "instances" (row '
                           'format) or "inputs" (columnar format).')
    if row:
        instances = request['instances']
        if not isinstance(instances, list) or not instances:
            raise RequestError('"instances" must be a non-empty list.')
        named = all(isinstance(i, dict) and set(i) != {'b64'} for i in instances)
        if named:
            missing = [k for k in specs if any(k not in i for i in instances)]
            if missing:
                raise RequestError(f'Instances lack input(s) {missing}.')
            columns = {k: [_binary(i[k]) for i in instances] for k in specs}
        elif len(specs) == 1:
            columns = {next(iter(specs)): [_binary(i) for i in instances]}
        else:
            raise RequestError(f'The signature has {len(specs)} inputs: each instance must '
                               f'be an object keyed by {sorted(specs)}.')
    else:
        inputs = request['inputs']
        if isinstance(inputs, dict) and set(inputs) != {'b64'}:
            columns = {k: _binary(inputs[k]) for k in specs if k in inputs}
            if len(columns) != len(specs):
                raise RequestError(f'"inputs" lacks input(s) '
                                   f'{sorted(set(specs) - set(columns))}.')
        elif len(specs) == 1:
            columns = {next(iter(specs)): _binary(inputs)}
        else:
            raise RequestError(f'The signature has {len(specs)} inputs: "inputs" must be '
                               f'an object keyed by {sorted(specs)}.')
    return name, {k: _tensor(v, specs[k], k, max_pixels) for k, v in columns.items()}, row


def _jsonable(value, binary):
    if isinstance(value, bytes):
        if binary:
            return {'b64': base64.b64encode(value).decode('ascii')}
        return value.decode('utf-8')
    if isinstance(value, list):
        return [_jsonable(v, binary) for v in value]
    return value


def encode_response(outputs, row):
    """The response object for signature ``outputs`` ({name: tensor})."""
    lists = {k: _jsonable(v.numpy().tolist(), k.endswith('_bytes'))
             for k, v in outputs.items()}
    if not row:
        return {'outputs': lists if len(lists) != 1 else next(iter(lists.values()))}
    if len(lists) == 1:
        return {'predictions': next(iter(lists.values()))}
    size = len(next(iter(lists.values())))
    return {'predictions': [{k: v[i] for k, v in lists.items()} for i in range(size)]}


def predict(signatures, body, max_pixels=limits.DEFAULT_MAX_PIXELS):
    """Runs a REST predict request on ``signatures``; returns the response object.

    Raises:
      RequestError: the request is malformed, or the model refuses it (InvalidArgument,
        e.g. an image over the export's own pixel limit).
    """
    name, inputs, row = decode_request(body, signatures, max_pixels)
    try:
        outputs = signatures[name](**inputs)
    except tf.errors.InvalidArgumentError as e:
        raise RequestError(f'The model refused the request: {e.message.strip()[:300]}') \
            from None
    return encode_response(outputs, row)
