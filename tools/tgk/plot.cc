#include "plot.h"

#include <plplot/plplot.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <vector>

#include "tgk/error.h"

namespace tgk::tool {
namespace {

constexpr const char* kDevice = "pngcairo";

bool HasDevice(const char* device) {
  // PLplot lists its devices through arrays it fills, of at most as many as we pass.
  constexpr int kMax = 128;
  std::vector<const char*> menus(kMax), names(kMax);
  const char** menu_list = menus.data();
  const char** name_list = names.data();
  int count = kMax;
  plgDevs(&menu_list, &name_list, &count);
  for (int i = 0; i < count; ++i) {
    if (std::strcmp(names[i], device) == 0) return true;
  }
  return false;
}

// One panel: a line with points, y from 0 to above the largest value.
void Panel(const std::vector<PLFLT>& x, const std::vector<PLFLT>& y, const char* y_label,
           const char* title, PLFLT y_floor_max) {
  const PLFLT x_max = *std::max_element(x.begin(), x.end());
  const PLFLT y_max = std::max(y_floor_max, *std::max_element(y.begin(), y.end()) * 1.15);
  pladv(0);
  plvsta();
  plwind(0.5, x_max + 0.5, 0.0, y_max);
  plcol0(15);
  plbox("bcgnst", std::max<PLFLT>(1, std::ceil(x_max / 8)), 0, "bcgnstv", 0.0, 0);
  pllab("threads", y_label, title);
  plcol0(9);
  plwidth(2.0);
  plline(PLINT(x.size()), x.data(), y.data());
  plpoin(PLINT(x.size()), x.data(), y.data(), 17);
  plwidth(1.0);
}

}  // namespace

void CheckPlotPossible(const std::string& path) {
  // PLplot ends the process when it cannot open its output, so the path is tried first.
  if (!std::ofstream(path, std::ios::binary)) {
    throw Error(ErrorKind::kIo, path + ": cannot write the plot: " + std::strerror(errno));
  }
  if (!HasDevice(kDevice)) {
    throw Error(ErrorKind::kIo, path + ": PLplot has no '" + std::string(kDevice) +
                                    "' device here (install plplot-driver-cairo)");
  }
}

void PlotScaling(const std::string& path, const std::string& title, const std::string& rate_unit,
                 const std::vector<ScalingPoint>& points) {
  CheckPlotPossible(path);
  std::vector<PLFLT> threads, rate, efficiency;
  for (const ScalingPoint& p : points) {
    threads.push_back(p.threads);
    rate.push_back(p.rate);
    efficiency.push_back(p.efficiency);
  }
  plsdev(kDevice);
  plsfnam(path.c_str());
  plspage(0, 0, 1000, 800, 0, 0);
  plscolbg(255, 255, 255);
  plscol0(15, 0, 0, 0);  // axes and labels in black on the white background
  plssub(1, 2);
  plinit();
  Panel(threads, rate, rate_unit.c_str(), title.c_str(), 0.0);
  Panel(threads, efficiency, "parallel efficiency", "speedup / threads", 1.1);
  plend();
}

}  // namespace tgk::tool

// The cairo device's fontconfig keeps its font cache, and PLplot's libltdl its list of loaded
// drivers, for the life of the process: under ASan, LeakSanitizer would report them at exit.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TGK_TOOL_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(TGK_TOOL_ASAN)
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libfontconfig.so\nleak:libltdl.so\n";
}
#endif
