#!/usr/bin/env bash
# control-bytes.sh PREFIX: runs kiln on a model path with an ESC sequence in
# it (the lit shell cannot write one); the message must escape it.
kiln run "$(printf '%s.a\033[31mb.mlir' "$1")"
