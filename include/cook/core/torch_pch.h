// The precompiled header shared by every LibTorch translation unit of Cook.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>
