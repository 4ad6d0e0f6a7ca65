"""TFRecord framing read in plain Python: the first record of a file with its CRCs
checked, what a file that is not a TFRecord looks like instead (an image, gzip, zip),
and which files of a list are damaged (for the data-loss error of a run)."""

import struct

import tensorflow as tf

from jacktf.core.errors import DataError
from jacktf.data.pipeline import list_files

_MAGIC = ((b'\xff\xd8\xff', 'a JPEG image'), (b'\x89PNG\r\n\x1a\n', 'a PNG image'),
          (b'GIF8', 'a GIF image'), (b'BM', 'a BMP image'),
          (b'\x1f\x8b', 'a gzip file'), (b'PK\x03\x04', 'a zip archive'))


def _crc32c_table():
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def _masked_crc32c(data):
    """The masked CRC-32C that frames every TFRecord (length and data)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def looks_like(data):
    """'a JPEG image', 'a gzip file', ... for known magic bytes, else None."""
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return what
    return None


class NotTFRecord(Exception):
    pass


def read_first_record(path):
    """The first record of a TFRecord file, or None when the file is empty.

    Raises:
      NotTFRecord: with what the file looks like instead.
    """
    # Plain open() for local files: no TensorFlow file system, works on pipes too.
    opener = tf.io.gfile.GFile if '://' in path else open
    with opener(path, 'rb') as f:
        header = f.read(12)
        if not header:
            return None
        if len(header) < 12 or struct.unpack('<I', header[8:])[0] != \
                _masked_crc32c(header[:8]):
            what = looks_like(header)
            raise NotTFRecord(f'it is {what}' if what else
                               'its first bytes are not a TFRecord header')
        length = struct.unpack('<Q', header[:8])[0]
        data = f.read(length)
        if len(data) < length:
            raise NotTFRecord(f'its first record is cut off ({len(data)} of {length} '
                               'bytes)')
        return data


def find_damaged(files):
    """(file, what is wrong) for the first TFRecord file whose framing is broken, or None.

    Walks the record headers of every file (reading 12 bytes a record and seeking over
    the data), so it is meant for the error path, after TensorFlow reported damage.
    """
    for path in files:
        opener = tf.io.gfile.GFile if '://' in path else open
        try:
            size = tf.io.gfile.stat(path).length
            with opener(path, 'rb') as f:
                offset, index = 0, 0
                while offset < size:
                    header = f.read(12)
                    if len(header) < 12 or struct.unpack('<I', header[8:])[0] != \
                            _masked_crc32c(header[:8]):
                        return path, f'record {index} at byte {offset} has a broken header'
                    length = struct.unpack('<Q', header[:8])[0]
                    end = offset + 12 + length + 4
                    if end > size:
                        return path, (f'it is cut off: record {index} needs {end} bytes, '
                                      f'the file has {size}')
                    f.seek(end)
                    offset, index = end, index + 1
        except (OSError, tf.errors.OpError) as e:
            return path, f'it cannot be read ({e})'
    return None


def damaged_data_error(error, file_pattern, setting='TRAIN_FILES'):
    """The DataError for TensorFlow's DataLossError while reading ``file_pattern``."""
    try:
        found = find_damaged([f for f in list_files(file_pattern)
                              if not tf.io.gfile.isdir(f)])
    except DataError:
        found = None
    tf_says = (getattr(error, 'message', None) or str(error)).split('\n')[0]
    where = f'{found[0]} is damaged: {found[1]}' if found else \
        f'a file of {setting} = {file_pattern!r} is damaged ({tf_says})'
    return DataError(f'{setting}: {where}. A copy or download was probably cut short: '
                     'copy the file again, or write the records again with `jacktf '
                     'convert`.')
