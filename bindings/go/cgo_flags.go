package rai

// Compiler and linker flags for librai come from pkg-config. Inside a Meson build tree, point
// PKG_CONFIG_PATH at <build>/meson-uninstalled (rai-uninstalled.pc); after `meson install`, at
// the installed pkgconfig directory.

// #cgo pkg-config: rai
import "C"
