#include "tgk/version.h"

namespace tgk {

const char* Version() { return TGK_VERSION_STRING; }

}  // namespace tgk
