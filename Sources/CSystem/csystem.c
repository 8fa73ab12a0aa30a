/* Headers only (include/csystem.h); SwiftPM wants one source file in a C target. */
