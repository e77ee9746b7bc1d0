// The trainer's per-epoch CSV log and its SVG plot (plain text, no
// plotting library: two panels, loss and accuracy, one line per split).
#include "FileIO.h"
#include "kiln/runtime/Trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace kiln::runtime {

namespace {

const char kHeader[] = "epoch,train_loss,train_accuracy,val_loss,"
                       "val_accuracy,test_loss,test_accuracy,seconds";

// -1 is the "not measured" marker of EpochMetrics.
bool measured(double value) { return value != -1; }

std::string cell(double value, const char *format = "%.6g") {
  if (!measured(value)) {
    return "";
  }
  char text[64];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.4g", value);
  return text;
}

std::string coordinate(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f", value);
  return text;
}

// 1, 2 or 5 times a power of ten, about range / 5.
double tickStep(double range) {
  double rough = range / 5;
  double power = std::pow(10.0, std::floor(std::log10(rough)));
  for (double factor : {1.0, 2.0, 5.0}) {
    if (factor * power >= rough) {
      return factor * power;
    }
  }
  return 10 * power;
}

struct Series {
  const char *name;
  const char *color;
  std::vector<std::pair<double, double>> points; // (epoch, value)
};

// One panel at (left, top) of the given size: frame, ticks, polylines,
// legend.
void drawPanel(std::ostringstream &svg, const std::string &title,
               const std::vector<Series> &series, double left, double top,
               double width, double height, int64_t lastEpoch,
               const char *xLabel = "epoch") {
  svg << "<text x=\"" << coordinate(left) << "\" y=\"" << coordinate(top - 12)
      << "\" font-weight=\"bold\">" << title << "</text>\n";
  double low = INFINITY, high = -INFINITY;
  for (const Series &s : series) {
    for (const auto &point : s.points) {
      low = std::min(low, point.second);
      high = std::max(high, point.second);
    }
  }
  svg << "<rect x=\"" << coordinate(left) << "\" y=\"" << coordinate(top)
      << "\" width=\"" << coordinate(width) << "\" height=\""
      << coordinate(height) << "\" fill=\"none\" stroke=\"#333\"/>\n";
  if (low > high) {
    svg << "<text x=\"" << coordinate(left + width / 2) << "\" y=\""
        << coordinate(top + height / 2)
        << "\" text-anchor=\"middle\" fill=\"#777\">not measured</text>\n";
    return;
  }
  if (high - low < 1e-12) {
    double pad = std::max(std::fabs(high) * 0.05, 1e-3);
    low -= pad;
    high += pad;
  }
  double step = tickStep(high - low);
  low = std::floor(low / step) * step;
  high = std::ceil(high / step) * step;
  double firstEpoch = 1, finalEpoch = std::max<double>(lastEpoch, 2);
  auto xAt = [&](double epoch) {
    return left + (epoch - firstEpoch) / (finalEpoch - firstEpoch) * width;
  };
  auto yAt = [&](double value) {
    return top + height - (value - low) / (high - low) * height;
  };
  // y ticks and grid.
  for (double value = low; value <= high + step / 2; value += step) {
    double y = yAt(value);
    svg << "<line x1=\"" << coordinate(left - 5) << "\" y1=\"" << coordinate(y)
        << "\" x2=\"" << coordinate(left + width) << "\" y2=\"" << coordinate(y)
        << "\" stroke=\"#ddd\"/>\n<text x=\"" << coordinate(left - 8)
        << "\" y=\"" << coordinate(y + 4) << "\" text-anchor=\"end\">"
        << number(std::fabs(value) < step / 1e6 ? 0 : value) << "</text>\n";
  }
  // x ticks: whole epochs, at most about ten.
  double epochStep = std::max(1.0, std::ceil(tickStep(finalEpoch - 1)));
  for (double epoch = firstEpoch; epoch <= finalEpoch + 1e-9;
       epoch += epochStep) {
    double x = xAt(epoch);
    svg << "<line x1=\"" << coordinate(x) << "\" y1=\""
        << coordinate(top + height) << "\" x2=\"" << coordinate(x) << "\" y2=\""
        << coordinate(top + height + 5) << "\" stroke=\"#333\"/>\n<text x=\""
        << coordinate(x) << "\" y=\"" << coordinate(top + height + 20)
        << "\" text-anchor=\"middle\">" << number(epoch) << "</text>\n";
  }
  svg << "<text x=\"" << coordinate(left + width / 2) << "\" y=\""
      << coordinate(top + height + 38)
      << "\" text-anchor=\"middle\">" << xLabel << "</text>\n";
  // Lines with a marker per epoch (a single epoch shows as a dot).
  for (const Series &s : series) {
    if (s.points.empty()) {
      continue;
    }
    svg << "<polyline fill=\"none\" stroke=\"" << s.color
        << "\" stroke-width=\"2\" points=\"";
    for (const auto &[epoch, value] : s.points) {
      svg << coordinate(xAt(epoch)) << "," << coordinate(yAt(value)) << " ";
    }
    svg << "\"/>\n";
    for (const auto &[epoch, value] : s.points) {
      svg << "<circle cx=\"" << coordinate(xAt(epoch)) << "\" cy=\""
          << coordinate(yAt(value)) << "\" r=\"3\" fill=\"" << s.color
          << "\"/>\n";
    }
  }
  // Legend above the frame, right-aligned (never over the curves).
  double x = left + width - 65 * 3;
  for (const Series &s : series) {
    if (s.points.empty()) {
      continue;
    }
    double y = top - 12;
    svg << "<line x1=\"" << coordinate(x) << "\" y1=\"" << coordinate(y - 4)
        << "\" x2=\"" << coordinate(x + 20) << "\" y2=\"" << coordinate(y - 4)
        << "\" stroke=\"" << s.color << "\" stroke-width=\"2\"/>\n<text x=\""
        << coordinate(x + 26) << "\" y=\"" << coordinate(y) << "\">" << s.name
        << "</text>\n";
    x += 65;
  }
}

// X.csv -> X (any other name stays).
std::string withoutCsv(std::string path) {
  if (path.size() >= 4 && path.compare(path.size() - 4, 4, ".csv") == 0) {
    path.resize(path.size() - 4);
  }
  return path;
}

// A CSV and its SVG picture next to it (X.csv and X.svg), each atomically.
void writeCsvAndPlot(const std::string &path, const std::string &csv,
                     const std::string &svg) {
  detail::writeFileAtomically(path, csv.data(), csv.size());
  detail::writeFileAtomically(withoutCsv(path) + ".svg", svg.data(),
                              svg.size());
}

// The rows of a CSV written by kiln (`what` names it in errors): the header
// must be `header`, every row `columns` cells (a trailing empty one too).
std::vector<std::vector<std::string>> readCsvRows(const std::string &path,
                                                  const char *header,
                                                  const char *what,
                                                  size_t columns) {
  std::ifstream stream(path);
  if (!stream) {
    throw Error("cannot open '" + path + "'");
  }
  std::string line;
  if (!std::getline(stream, line) || line != header) {
    throw Error(path + ": not a kiln " + what + " (header '" + line + "')");
  }
  std::vector<std::vector<std::string>> rows;
  while (std::getline(stream, line)) {
    if (line.empty()) {
      continue;
    }
    std::vector<std::string> cells;
    std::istringstream row(line);
    std::string value;
    while (std::getline(row, value, ',')) {
      cells.push_back(value);
    }
    if (line.back() == ',') {
      cells.push_back("");
    }
    if (cells.size() != columns) {
      throw Error(path + ": row '" + line + "' has " +
                  std::to_string(cells.size()) + " cells, expected " +
                  std::to_string(columns));
    }
    rows.push_back(std::move(cells));
  }
  return rows;
}

} // namespace

void writeTrainingLog(const std::string &path,
                      const std::vector<EpochMetrics> &epochs) {
  std::string text = std::string(kHeader) + "\n";
  for (const EpochMetrics &m : epochs) {
    text += std::to_string(m.epoch) + "," + cell(m.trainLoss) + "," +
            cell(m.trainAccuracy) + "," + cell(m.valLoss) + "," +
            cell(m.valAccuracy) + "," + cell(m.testLoss) + "," +
            cell(m.testAccuracy) + "," + cell(m.seconds, "%.3f") + "\n";
  }
  writeCsvAndPlot(path, text, trainingPlotSvg(epochs));
}

std::vector<EpochMetrics> readTrainingLog(const std::string &path) {
  std::vector<EpochMetrics> epochs;
  for (const auto &cells : readCsvRows(path, kHeader, "training log", 8)) {
    auto parse = [&](const std::string &text) {
      return text.empty() ? -1.0 : std::strtod(text.c_str(), nullptr);
    };
    EpochMetrics m;
    m.epoch = std::strtoll(cells[0].c_str(), nullptr, 10);
    m.trainLoss = parse(cells[1]);
    m.trainAccuracy = parse(cells[2]);
    m.valLoss = parse(cells[3]);
    m.valAccuracy = parse(cells[4]);
    m.testLoss = parse(cells[5]);
    m.testAccuracy = parse(cells[6]);
    m.seconds = parse(cells[7]);
    epochs.push_back(m);
  }
  return epochs;
}

std::string trainingPlotSvg(const std::vector<EpochMetrics> &epochs) {
  const double panelWidth = 400, panelHeight = 280, margin = 70, top = 40;
  std::vector<Series> loss = {{"train", "#1f77b4", {}},
                              {"val", "#ff7f0e", {}},
                              {"test", "#2ca02c", {}}};
  std::vector<Series> accuracy = loss;
  int64_t lastEpoch = 1;
  for (const EpochMetrics &m : epochs) {
    double e = static_cast<double>(m.epoch);
    lastEpoch = std::max(lastEpoch, m.epoch);
    double losses[] = {m.trainLoss, m.valLoss, m.testLoss};
    double accuracies[] = {m.trainAccuracy, m.valAccuracy, m.testAccuracy};
    for (int i = 0; i < 3; ++i) {
      if (measured(losses[i]) && std::isfinite(losses[i])) {
        loss[i].points.emplace_back(e, losses[i]);
      }
      if (measured(accuracies[i]) && std::isfinite(accuracies[i])) {
        accuracy[i].points.emplace_back(e, accuracies[i]);
      }
    }
  }
  double width = 2 * (margin + panelWidth) + 50;
  double height = top + panelHeight + 60;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width
      << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << " "
      << height << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  drawPanel(svg, "loss", loss, margin, top, panelWidth, panelHeight, lastEpoch);
  drawPanel(svg, "accuracy", accuracy, 2 * margin + panelWidth + 30, top,
            panelWidth, panelHeight, lastEpoch);
  svg << "</svg>\n";
  return svg.str();
}

namespace {
const char kGradHeader[] =
    "step,epoch,parameter,grad_norm,weight_norm,update_ratio";
} // namespace

std::string gradNormLogPath(const std::string &logPath) {
  return withoutCsv(logPath) + ".grads.csv";
}

void writeGradNormLog(const std::string &path,
                      const std::vector<GradNormRecord> &records) {
  std::string text = std::string(kGradHeader) + "\n";
  for (const GradNormRecord &r : records) {
    text += std::to_string(r.step) + "," + std::to_string(r.epoch) + "," +
            r.parameter + "," + cell(r.gradNorm, "%.6e") + "," +
            cell(r.weightNorm, "%.6e") + "," + cell(r.updateRatio, "%.6e") +
            "\n";
  }
  writeCsvAndPlot(path, text, gradNormPlotSvg(records));
}

std::vector<GradNormRecord> readGradNormLog(const std::string &path) {
  std::vector<GradNormRecord> records;
  for (const auto &cells :
       readCsvRows(path, kGradHeader, "gradient-norm log", 6)) {
    GradNormRecord r;
    r.step = std::strtoll(cells[0].c_str(), nullptr, 10);
    r.epoch = std::strtoll(cells[1].c_str(), nullptr, 10);
    r.parameter = cells[2];
    r.gradNorm = std::strtod(cells[3].c_str(), nullptr);
    r.weightNorm = std::strtod(cells[4].c_str(), nullptr);
    r.updateRatio = std::strtod(cells[5].c_str(), nullptr);
    records.push_back(r);
  }
  return records;
}

std::string gradNormPlotSvg(const std::vector<GradNormRecord> &records) {
  // Parameters in order of first appearance, a panel each.
  std::vector<std::string> names;
  int64_t lastStep = 1;
  for (const GradNormRecord &r : records) {
    if (std::find(names.begin(), names.end(), r.parameter) == names.end()) {
      names.push_back(r.parameter);
    }
    lastStep = std::max(lastStep, r.step);
  }
  const double panelWidth = 300, panelHeight = 170, margin = 60, top = 50;
  const double cellWidth = margin + panelWidth + 30,
               cellHeight = top + panelHeight + 50;
  const int columns = 3;
  int rows = static_cast<int>((names.size() + columns - 1) / columns);
  double width = columns * cellWidth + 20;
  double height = std::max(1, rows) * cellHeight + 30;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width
      << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << " "
      << height << "\" font-family=\"sans-serif\" font-size=\"11\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"10\" y=\"18\">log10 of the gradient L2 norm and of "
         "||update|| / ||weight|| per parameter</text>\n";
  for (size_t i = 0; i < names.size(); ++i) {
    std::vector<Series> series = {{"grad", "#1f77b4", {}},
                                  {"update", "#ff7f0e", {}}};
    for (const GradNormRecord &r : records) {
      if (r.parameter != names[i]) {
        continue;
      }
      double s = static_cast<double>(r.step);
      if (r.gradNorm > 0 && std::isfinite(r.gradNorm)) {
        series[0].points.emplace_back(s, std::log10(r.gradNorm));
      }
      if (r.updateRatio > 0 && std::isfinite(r.updateRatio)) {
        series[1].points.emplace_back(s, std::log10(r.updateRatio));
      }
    }
    double left = margin + static_cast<double>(i % columns) * cellWidth;
    double y = 30 + top + static_cast<double>(i / columns) * cellHeight;
    drawPanel(svg, names[i], series, left, y, panelWidth, panelHeight,
              lastStep, "step");
  }
  svg << "</svg>\n";
  return svg.str();
}

} // namespace kiln::runtime
