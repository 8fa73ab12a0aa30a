/* Headers only (include/clinux.h); SwiftPM wants one source file in a C target. */
