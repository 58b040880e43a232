// kelp-shim: the per-container monitor process (see agent/runtime/shim.h).
#include "agent/runtime/shim.h"

int main(int argc, char** argv) { return kelp::agent::RunShim(argc, argv); }
