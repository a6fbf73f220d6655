"""The component's exports (`crm-migrate:plugin/hooks@0.1.0`): describe, configure and clean,
with batches decoded from the wire and outcomes encoded back, as the Rust SDK's glue does. The
other hooks answer that they are not implemented, in the SDK's words."""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types as wire

import cleaner

# A fresh instance serves each call: configure, then one hook. What configure built lives here
# until the instance is dropped.
_cleaner = None


def _not_implemented(hook):
    return Err(f"the plugin does not implement the {hook} hook (it is not among those its describe names)")


def _arena_reader(batch):
    """A function from a text-ref to its text. Offsets are UTF-8 bytes: an ASCII arena (the
    usual case) is sliced as it is, any other is encoded once and its slices decoded."""
    text = batch.text
    if text.isascii():
        size = len(text)

        def read(ref):
            end = ref.start + ref.len
            if end > size:
                raise Err(f"batch {batch.id} has a text-ref outside its arena")
            return text[ref.start:end]
    else:
        data = text.encode()
        size = len(data)

        def read(ref):
            end = ref.start + ref.len
            if end > size:
                raise Err(f"batch {batch.id} has a text-ref outside its arena")
            return data[ref.start:end].decode()
    return read


def _value(cell, read):
    if isinstance(cell, wire.Cell_Text):
        return cleaner.Text(read(cell.value))
    if isinstance(cell, wire.Cell_Null):
        return cleaner.NULL
    if isinstance(cell, wire.Cell_Choices):
        return cleaner.Other(not cell.value)
    return cleaner.Other(False)


def _field_value(value):
    if isinstance(value, cleaner.Text):
        return wire.FieldValue_Text(value.text)
    # The only other value this plugin sets is a cleared phone.
    return wire.FieldValue_Null()


class Hooks(exports.Hooks):
    def describe(self):
        return wire.PluginInfo(
            name=cleaner.NAME,
            version=cleaner.VERSION,
            description=cleaner.DESCRIPTION,
            hooks=[wire.Hook.CLEAN],
            options=[
                wire.ConfigOption(key=key, description=description, default_value=default)
                for key, description, default in cleaner.OPTIONS
            ],
        )

    def configure(self, config):
        global _cleaner
        try:
            _cleaner = cleaner.configure(config)
        except cleaner.ConfigError as error:
            raise Err(wire.ConfigError(key=error.key, message=error.message))

    def clean(self, batch):
        if _cleaner is None:
            raise Err("clean was called before configure")
        columns = batch.columns
        width = len(columns)
        records = batch.records
        cells = batch.cells
        if len(cells) != len(records) * width:
            raise Err(
                f"batch {batch.id} has {len(cells)} cells, expected {len(records)} records x {width} columns"
            )
        read = _arena_reader(batch)
        index = {}
        for position, column in enumerate(columns):
            index.setdefault(column, position)
        outcomes = []
        for row, header in enumerate(records):
            read(header.source_id)
            values = [_value(cell, read) for cell in cells[row * width:(row + 1) * width]]
            fate, detail = _cleaner.clean(columns, index, values)
            if fate == "keep":
                outcomes.append(wire.CleanOutcome_Keep(
                    [wire.FieldChange(field=field, value=_field_value(value)) for field, value in detail]
                ))
            elif fate == "drop":
                outcomes.append(wire.CleanOutcome_Drop(detail))
            else:
                outcomes.append(wire.CleanOutcome_Reject(
                    [wire.FieldIssue(field=field, message=message) for field, message in detail]
                ))
        return outcomes

    def match_keys(self, batch):
        raise _not_implemented("dedup")

    def merge(self, batch, groups):
        raise _not_implemented("dedup")

    def label(self, tags, segments):
        raise _not_implemented("label")
