// intrinsics.h is all static inline functions, compiled into the Swift that calls them; SwiftPM needs
// a source file to build the module from.
#include "intrinsics.h"
