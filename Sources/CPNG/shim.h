#include <png.h>
// Macros that do not import into Swift.
static const unsigned int GB_PNG_FORMAT_RGBA = PNG_FORMAT_RGBA;
static const unsigned int GB_PNG_FORMAT_RGB = PNG_FORMAT_RGB;
static const unsigned int GB_PNG_FORMAT_GRAY = PNG_FORMAT_GRAY;
static const unsigned int GB_PNG_IMAGE_VERSION = PNG_IMAGE_VERSION;
