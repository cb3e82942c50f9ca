import { Component, type ReactNode } from "react";

// A page that fails to render says so, instead of leaving a blank console; the top bar
// stays, so the person can go elsewhere.
export class ErrorBoundary extends Component<{ children: ReactNode }, { failed: boolean }> {
  override state = { failed: false };

  static getDerivedStateFromError(): { failed: boolean } {
    return { failed: true };
  }

  override render() {
    if (this.state.failed)
      return (
        <p role="alert">
          This page could not be shown. Reload it, or choose another page above.
        </p>
      );
    return this.props.children;
  }
}
