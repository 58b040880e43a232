// Anchor for the kelp_controllers library (the Controller interface is header-only).
#include "controllers/controller.h"
