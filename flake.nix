{
  # abicheck as a flake: the package, the hook, glibc 2.28 and its stdenv, and
  # the relink functions, for x86_64-linux and aarch64-linux. The same
  # expressions as nix/default.nix, which needs no flakes.
  description = "abicheck: every reason a shared object will fail to load, found before its users do";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forEach = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
      pkgsFor = system: import nixpkgs { inherit system; overlays = [ self.overlays.default ]; };
    in
    {
      # final.abicheck, abicheckHook, glibc_2_28, stdenvGlibc228, abicheckRelink.{stubsOf,relink} (their
      # derivations take their system from final's host platform), and two functions of RPM metadata:
      # abicheckRpmPackages metadata, and stdenvEl8 { metadata; cuda ? null; }.
      overlays.default = final: _prev:
        let ours = import ./nix { pkgs = final; };
        in {
          inherit (ours) abicheck abicheckHook glibc_2_28 stdenvGlibc228 stdenvEl8;
          abicheckRpmPackages = ours.rpmPackages;
          abicheckRelink = import ./nix/relink.nix {
            pkgs = final;
            path = final.lib.makeBinPath (with final; [ ours.abicheck patchelf coreutils findutils gnugrep gnused ]);
          };
        };

      packages = forEach (system:
        let pkgs = pkgsFor system;
        in {
          inherit (pkgs) abicheck glibc_2_28;
          default = pkgs.abicheck;
        });

      # stdenvGlibc228.mkDerivation { ... } builds against glibc 2.28; the hook goes in nativeBuildInputs.
      legacyPackages = forEach (system:
        let pkgs = pkgsFor system;
        in { inherit (pkgs) abicheckHook stdenvGlibc228 abicheckRelink; });

      lib = forEach (system: { inherit ((pkgsFor system).abicheckRelink) stubsOf relink; });
    };
}
