# What the RPMs' FHS paths break, fixed once the set is known (an overlay:
# `final` is the finished set). gcc-toolset's libstdc++-devel installs
# libstdc++.so as a linker script naming the system's /usr/lib64/libstdc++.so.6
# (the EL8 one, from the `libstdc++` package) and libstdc++_nonshared.a beside
# it: the script is pointed at that package's store path, so that C++ objects
# link the EL8 libstdc++.so.6 dynamically and take what newer GCCs need from
# the archive.
final: prev:
let
  isToolsetLibstdcxx = name: builtins.match "gcc-toolset-[0-9]+-libstdc\\+\\+-devel" name != null;
  fixScript = name: drv: drv.override (attrs: {
    libstdcxx = final."libstdc++" or (throw "rpm overrides: ${name} needs the libstdc++ package in the metadata");
    postInstall = attrs.postInstall + ''
      for script in $(find "$out/lib" -name libstdc++.so -type f); do
        sed -i "s|/usr/lib64/libstdc++.so.6|$libstdcxx/lib/libstdc++.so.6|g" "$script"
      done
    '';
  });
in
builtins.mapAttrs fixScript (builtins.removeAttrs prev
  (builtins.filter (name: !isToolsetLibstdcxx name) (builtins.attrNames prev)))
