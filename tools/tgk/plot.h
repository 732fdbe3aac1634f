// `tgk scaling --plot FILE.png`: rate and parallel efficiency against threads, drawn by PLplot
// (its pngcairo device).
#pragma once

#include <string>
#include <vector>

namespace tgk::tool {

struct ScalingPoint {
  int threads;
  double rate;        // giga of rate_unit per second
  double efficiency;  // speedup / (threads / first threads)
};

// tgk::Error (kIo) when `path` cannot be written or PLplot lacks its cairo device: checked
// before a sweep, so that it fails before the runs.
void CheckPlotPossible(const std::string& path);

// Writes a PNG of two panels to `path`. tgk::Error (kIo) when the file cannot be written or
// the tool was built without PLplot's cairo device.
void PlotScaling(const std::string& path, const std::string& title, const std::string& rate_unit,
                 const std::vector<ScalingPoint>& points);

}  // namespace tgk::tool
