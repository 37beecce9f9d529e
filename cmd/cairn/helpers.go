package main

import "github.com/cairn-dev/cairn/compiler"

func bundleFormat() int { return compiler.FormatVersion }
